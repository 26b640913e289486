"""How the centre speaks HTTP, for the API and the dashboard alike: the error shape (`errors`),
request bodies (`bodies`), who is calling (`auth`, `tokens`), the wrong-token limit (`ratelimit`),
what the OpenAPI document says (`openapi`) and what every endpoint shares (`endpoints`).
Routes live in `centre.api` and `centre.dashboard`; this package has none."""
