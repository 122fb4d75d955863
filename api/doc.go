// Package api is hookd's HTTP face: the fasthttp server, authentication and
// roles, RFC 9457 problem+json errors, the native /v1 handlers, health,
// metrics and the OpenAPI document.
//
// Handlers validate and translate; they hold no delivery or storage logic.
// Every route is declared once in the route table (routes.go) together with
// the role it needs, so no route exists without an authorization decision.
// Handlers return errors; one function (problem.go) maps them to responses.
package api
