-- create_user with an Idempotency-Key unique to this run and request (wrk runs one thread).
local headers = {["Content-Type"] = "application/json"}
local n = 0

request = function()
  n = n + 1
  headers["Idempotency-Key"] = string.format("%s-%d", RUN, n)
  local body = string.format(
    '{"username": "%s_%d", "email": "%s_%d@example.com", "password": "benchmark password"}',
    RUN, n, RUN, n)
  return wrk.format("POST", "/users", headers, body)
end
