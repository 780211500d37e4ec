-- create_post with an Idempotency-Key unique to this run and request (wrk runs one thread).
local headers = {["Content-Type"] = "application/json"}
-- With authentication, a superuser's token (the driver sets TOKEN).
if TOKEN then headers["Authorization"] = "Bearer " .. TOKEN end
local n = 0

request = function()
  n = n + 1
  headers["Idempotency-Key"] = string.format("%s-%d", RUN, n)
  local body = string.format('{"title": "post %s %d", "body": "body of post %s %d"}', RUN, n, RUN, n)
  return wrk.format("POST", "/users/" .. math.random(USERS) .. "/posts", headers, body)
end
