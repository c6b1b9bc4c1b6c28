-- POST /students with a body no other request has sent: the email carries a token unique to the
-- run, the thread number and a counter.
-- Arguments after "--": the run token and the email domain.
require "stats"

local departments = { "CS", "EE", "ME", "CE", "MATH", "PHYS", "CHEM", "BIO" }
local token, domain
local counter = 0
local headers = {}

function init(args)
  token, domain = args[1], args[2]
  -- wrk.format() sends only the headers it is given: keep those of the command line (-H, e.g. the
  -- service's Authorization) and add the body's type.
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"Load Test %d","email":"load-%s-%d-%d@%s","department":"%s","cgpa":%d.%02d}',
    counter, token, thread_number, counter, domain,
    departments[counter % #departments + 1], 5 + counter % 5, counter % 100
  )
  return wrk.format("POST", "/students", headers, body)
end
