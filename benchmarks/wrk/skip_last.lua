-- GET the last page of 100 users by offset, for contrast with keyset_last.
request = function()
  return wrk.format("GET", "/users?skip=" .. (USERS - 100) .. "&limit=100")
end
