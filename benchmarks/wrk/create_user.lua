-- POST a user with a username and email unique to this run and request.
local headers = {["Content-Type"] = "application/json"}
local n = 0

request = function()
  n = n + 1
  local body = string.format(
    '{"username": "%s_%d", "email": "%s_%d@example.com", "password": "benchmark password"}',
    RUN, n, RUN, n)
  return wrk.format("POST", "/users", headers, body)
end
