-- GET the last page of 100 users by key: `after` the id 100 before the end.
request = function()
  return wrk.format("GET", "/users?after=" .. (USERS - 100) .. "&limit=100")
end
