-- GET a random user with roles, posts and profile.
request = function()
  return wrk.format("GET", "/users/" .. math.random(USERS) .. "/details")
end
