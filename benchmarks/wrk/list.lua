-- GET the first page of 100 users.
request = function()
  return wrk.format("GET", "/users?limit=100")
end
