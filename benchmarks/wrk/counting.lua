-- Counts `X-Cache: hit` answers (only where the app has a cache); read back in done().
cache_hits = 0

function response(status, headers, body)
  if headers["X-Cache"] == "hit" then
    cache_hits = cache_hits + 1
  end
end
