-- GET the user statistics (one aggregate query over the whole table).
request = function()
  return wrk.format("GET", "/users/stats")
end
