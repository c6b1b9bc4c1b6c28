-- PATCH /students/{id} with If-Match: * for ids drawn at random from a file of existing ids, each
-- with a new CGPA: a write that reads the student, changes it and commits, as a client would.
-- Arguments after "--": the path of the file.
require "stats"

local ids = {}
local headers = {}
local counter = 0

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  math.randomseed(os.time() * 100 + thread_number)
  -- Keep the command line's headers (the service's Authorization) and add the write's own.
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Content-Type"] = "application/json"
  headers["If-Match"] = "*"
end

function request()
  counter = counter + 1
  local body = string.format('{"cgpa":%d.%02d}', 5 + counter % 5, counter % 100)
  return wrk.format("PATCH", "/students/" .. ids[math.random(#ids)], headers, body)
end
