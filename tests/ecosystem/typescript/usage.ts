// A TypeScript client of the students service: types from openapi-typescript (schema.d.ts, made
// from the served document by tests/ecosystem/test_typescript_client.py), calls by openapi-fetch.
// It must compile with `tsc --strict` (tsconfig.json) and then do its round against the server.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];
type Student = components["schemas"]["StudentRead"];

declare const process: { env: Record<string, string | undefined>; exitCode?: number };

// A 404 exactly as the server sends it: no `errors`, so they must be optional, not nullable.
const notFoundBody: Problem = {
  type: "/problems/not-found",
  title: "Not found",
  status: 404,
  detail: "no student has id 01890a5d-ac96-774b-bcce-b302099a8057",
  instance: "/students/01890a5d-ac96-774b-bcce-b302099a8057",
  request_id: "6f1c2b9e8d7a4c3b",
};

function fail(message: string): never {
  throw new Error(message);
}

async function main(): Promise<void> {
  const baseUrl = process.env.BASE_URL ?? fail("BASE_URL is not set");
  const token = process.env.TOKEN ?? fail("TOKEN is not set");
  const department = process.env.DEPARTMENT ?? fail("DEPARTMENT is not set");
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  const created: Student[] = [];
  for (const number of [1, 2, 3]) {
    const { data, response } = await client.POST("/students", {
      params: { header: { "idempotency-key": `${department}-${number}` } },
      body: {
        name: `TypeScript ${number}`,
        email: `ts${number}.${department.toLowerCase()}@example.org`,
        department,
        cgpa: 8.25,
      },
    });
    if (data === undefined || response.status !== 201) fail(`register: ${response.status}`);
    created.push(data);
  }

  // Two a page, following next_cursor to the last page.
  const seen: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const { data } = await client.GET("/students", {
      params: { query: { department, limit: 2, ...(cursor === undefined ? {} : { cursor }) } },
    });
    if (data === undefined) fail("list failed");
    seen.push(...data.items.map((student) => student.id));
    if (data.next_cursor === null || data.next_cursor === undefined) break;
    cursor = data.next_cursor;
  }

  const first = created[0] ?? fail("nothing registered");
  const path = { params: { path: { student_id: first.id } } } as const;
  const unchanged = await client.GET("/students/{student_id}", {
    params: { path: { student_id: first.id }, header: { "if-none-match": '"1"' } },
  });

  const changed = await client.PATCH("/students/{student_id}", {
    params: { path: { student_id: first.id }, header: { "if-match": '"1"' } },
    body: { cgpa: 9.5 },
    headers: { "Content-Type": "application/merge-patch+json" },
  });
  const stale = await client.PATCH("/students/{student_id}", {
    params: { path: { student_id: first.id }, header: { "if-match": '"1"' } },
    body: { cgpa: 7 },
    headers: { "Content-Type": "application/merge-patch+json" },
  });
  const staleProblem: Problem | undefined = stale.error;

  const removed = await client.DELETE("/students/{student_id}", {
    params: { path: { student_id: first.id }, header: { "if-match": '"2"' } },
  });
  const gone = await client.GET("/students/{student_id}", path);
  const goneProblem: Problem | undefined = gone.error;

  console.log(
    JSON.stringify({
      registered: created.map((student) => student.version),
      listed: seen.length === created.length && seen.every((id, index) => id === created[index]?.id),
      unchanged: unchanged.response.status,
      changed: [changed.response.status, changed.data?.version, changed.data?.cgpa],
      stale: [stale.response.status, staleProblem?.type, staleProblem?.errors?.length ?? 0],
      removed: removed.response.status,
      gone: [gone.response.status, goneProblem?.status, goneProblem?.title === notFoundBody.title],
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
