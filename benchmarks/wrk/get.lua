-- GET one user by id. Ids are walked in order from a random start, so a run shorter
-- than USERS requests never asks for the same id twice (every answer is a cache miss).
local next_id = math.random(USERS)

request = function()
  next_id = next_id % USERS + 1
  return wrk.format("GET", "/users/" .. next_id)
end
