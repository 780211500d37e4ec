-- Appended to every scenario script: prints one line the driver parses.
-- The driver prepends the globals USERS, HOT, BULK, RUN (a token unique to the run),
-- TOKEN (a bearer token with authentication, else nil)
-- and a math.randomseed call.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local hits = 0
  for _, thread in ipairs(threads) do
    hits = hits + (thread:get("cache_hits") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d, "cache_hits": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), hits))
end
