-- GET one of the HOT first users by id; the driver has read each once, so a cache has them.
request = function()
  return wrk.format("GET", "/users/" .. math.random(HOT))
end
