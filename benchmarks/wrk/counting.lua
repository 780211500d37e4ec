-- Counts cache hits (answers with `x-cache: hit`; Starlette sends header names in lower
-- case); read back in done().
cache_hits = 0

function response(status, headers, body)
  if (headers["x-cache"] or headers["X-Cache"]) == "hit" then
    cache_hits = cache_hits + 1
  end
end
