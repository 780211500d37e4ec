-- GET a search nobody matches (the costliest: every candidate row is looked at), a
-- different term each time, as a user typing into a search box.
local n = math.random(1000000)

request = function()
  n = n + 1
  return wrk.format("GET", "/users/search?q=nomatch" .. n .. "&limit=20")
end
