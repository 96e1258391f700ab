-- wrk script: POST the request body in the file named by $BODY to the target URL; with
-- $HEADER_LEN set, as binary tensor data (Inference-Header-Content-Length), else as JSON.
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
local hl = os.getenv("HEADER_LEN")
if hl and hl ~= "" then
  wrk.headers["Inference-Header-Content-Length"] = hl
  wrk.headers["Content-Type"] = "application/octet-stream"
else
  wrk.headers["Content-Type"] = "application/json"
end

-- Report error statuses, so a run with errors is not mistaken for throughput. (No response()
-- hook: it would make wrk hand every response to Lua, costing CPU the server shares.)
function done(summary, latency, requests)
  io.write(string.format("non200 %d\n", summary.errors.status))
end
