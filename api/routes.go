package api

// route is one entry of the route table: every route names the role it
// needs (rolePublic for the unauthenticated operational endpoints).
type route struct {
	method, path string
	role         string
	h            handler
}

// nativeRoutes is the /v1 surface. Adding a route means choosing its role.
func (s *Server) nativeRoutes() []route {
	return []route{
		{"GET", "/healthz", rolePublic, s.healthz},
		{"GET", "/readyz", rolePublic, s.readyz},
		{"GET", "/metrics", rolePublic, s.metricsHandler},
		{"GET", "/openapi.json", rolePublic, s.openapi},

		{"POST", "/v1/events", RolePublish, s.countIngest(s.publishEvents)},
		{"GET", "/v1/events/{id}", RoleRead, s.getEventSeen},

		{"GET", "/v1/event-types", RoleRead, s.listEventTypes},
		{"POST", "/v1/event-types", RoleAdmin, s.createEventType},
		{"DELETE", "/v1/event-types/{name}", RoleAdmin, s.deleteEventType},

		{"GET", "/v1/webhooks", RoleRead, s.listWebhooks},
		{"POST", "/v1/webhooks", RoleWrite, s.createWebhook},
		{"POST", "/v1/webhooks:sendexpired", RoleWrite, s.sendExpired},
		{"GET", "/v1/webhooks/{id}", RoleRead, s.getWebhook},
		{"PUT", "/v1/webhooks/{id}", RoleWrite, updateHook(s, s.webhookID, asIs, s.webhookOutAny)},
		{"PATCH", "/v1/webhooks/{id}", RoleWrite, updateHook(s, s.webhookID, asIs, s.webhookOutAny)},
		{"DELETE", "/v1/webhooks/{id}", RoleWrite, s.deleteHook(s.webhookID, nil)},
		// POST /v1/webhooks/{id}:ping arrives here: the router cannot split
		// "{id}:ping" inside one segment, so the handler does.
		{"POST", "/v1/webhooks/{id}", RoleWrite, s.webhookAction},
		{"GET", "/v1/webhooks/{id}/heartbeat", RoleRead, s.heartbeat},
		{"GET", "/v1/webhooks/{id}/batches", RoleRead, s.listBatches},
		{"GET", "/v1/webhooks/{id}/batches/{batchId}", RoleRead, s.getBatch},
		{"GET", "/v1/webhooks/{id}/batches/{batchId}/attempts", RoleRead, s.listAttempts},
		{"POST", "/v1/webhooks/{id}/batches/{batchId}/attempts", RoleWrite, s.replayBatch},
		{"GET", "/v1/webhooks/{id}/batches/{batchId}/attempts/{attemptId}", RoleRead, s.getAttempt},
		{"GET", "/v1/webhooks/{id}/secret", RoleAdmin, s.getSecret},
		{"POST", "/v1/webhooks/{id}/secret:rotate", RoleAdmin, s.rotateSecret},

		// The console and its customer portal (console.go, portal.go).
		{"GET", "/v1/session", RoleRead, s.getSession},
		{"GET", "/v1/stats", RoleRead, s.getStats},
		{"POST", "/v1/portal-sessions", RoleAdmin, s.createPortalSession},

		// Not tenant-scoped: the operator's (admin.go).
		{"GET", "/admin/backup", RoleOperator, s.backup},
	}
}

// routes is the native surface plus the compat profiles api.compat enables
// (compat.go), all through the same wrap: authentication, roles, the body
// budget and error mapping.
func (s *Server) routes() []route {
	return append(append(s.nativeRoutes(), s.compatRoutes()...), s.consoleRoutes()...)
}
