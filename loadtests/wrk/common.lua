-- Shared by the wrk scripts of `make bench` (loadtests/bench.py): the sessions, the headers
-- the Widget API requires, the count of non-2xx answers and a JSON summary at the end.
--
-- Arguments (after `--`): <sessions file> <origin> <widget token> <threads> <run id>.
-- The sessions file has one line per visitor: "<bearer token> <after id>". Each wrk thread
-- takes its own share of the lines and rotates over them, so two requests of one session
-- are never sent at the same moment (the product's minimum poll interval counts per session).

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function bench_init(args)
  local path, threads_n
  path, origin, widget_token, threads_n, run_id = args[1], args[2], args[3], tonumber(args[4]), args[5]
  sessions = {}
  local line_no = 0
  for line in io.lines(path) do
    local token, after = line:match("^(%S+)%s+(%d+)")
    if token then
      if line_no % threads_n == tid then
        table.insert(sessions, { token = token, after = after })
      end
      line_no = line_no + 1
    end
  end
  if #sessions == 0 then
    error("no sessions for thread " .. tid .. " in " .. path)
  end
  cursor, sent, non2xx, statuses = 0, 0, 0, {}
end

function next_session()
  cursor = cursor % #sessions + 1
  sent = sent + 1
  return sessions[cursor]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad, codes = 0, {}
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    local seen = thread:get("statuses") or {}
    for code, count in pairs(seen) do
      codes[code] = (codes[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(codes) do
    table.insert(parts, string.format('"%s":%d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"non2xx":%d,"statuses":{%s},"socket_errors":{"connect":%d,"read":%d,'
      .. '"write":%d,"timeout":%d},"wrk_status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, bad, table.concat(parts, ","), e.connect, e.read,
    e.write, e.timeout, e.status))
end
