-- GET a page of 100 users by offset, as deep as the service allows (the last page, or
-- skip=10000, the largest offset it accepts), for contrast with keyset_last.
request = function()
  return wrk.format("GET", "/users?skip=" .. math.min(USERS - 100, 10000) .. "&limit=100")
end
