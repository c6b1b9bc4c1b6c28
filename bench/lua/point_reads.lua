-- GET /students/{id} for ids drawn at random from a file of existing ids (one per line), so the
-- reads spread over the table instead of hitting one cached row.
-- Arguments after "--": the path of the file.
require "stats"

local ids = {}

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  math.randomseed(os.time() * 100 + thread_number)
end

function request()
  return wrk.format("GET", "/students/" .. ids[math.random(#ids)])
end
