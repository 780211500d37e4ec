"""Authentication: the OAuth2 password flow with signed JWTs (README, Authentication).

`tokens` issues and verifies access tokens, `deps` turns a request's token into its user
(`CurrentUserDep`, `SuperuserDep`, `owner_or_superuser`), `routes` serves `POST /auth/token`
and `GET /users/me`, `create_superuser` makes the first superuser.
"""
