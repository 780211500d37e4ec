-- POST BULK users in one request, every username and email unique.
local headers = {["Content-Type"] = "application/json"}
local n = 0

request = function()
  local users = {}
  for i = 1, BULK do
    n = n + 1
    users[i] = string.format(
      '{"username": "%s_%d", "email": "%s_%d@example.com", "password": "benchmark password"}',
      RUN, n, RUN, n)
  end
  return wrk.format("POST", "/users/bulk", headers, "[" .. table.concat(users, ", ") .. "]")
end
