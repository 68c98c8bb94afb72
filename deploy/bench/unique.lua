-- wrk script: POST the file named by $BODY, with every "{{n}}" replaced by a
-- number unique to this request (e.g. an end-to-end id per payment).
local f = assert(io.open(os.getenv("BODY"), "rb"))
local template = f:read("*a")
f:close()
local auth = os.getenv("AUTH")
local counter = 0
local thread_tag = ""

function setup(thread)
  counter = counter + 1
  thread:set("tag", tostring(counter))
end

function init(args)
  thread_tag = tag or "0"
end

local n = 0
function request()
  n = n + 1
  local body = template:gsub("{{n}}", thread_tag .. "-" .. n)
  local headers = { ["Content-Type"] = "application/json", ["Accept-Encoding"] = "identity" }
  if auth and auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
