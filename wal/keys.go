package wal

// Key layout. Integers and IDs are big-endian so keys sort in time order.
//
//	e/<tenant>/<event-id>          event record (codec.go)
//	i/<tenant>/<idempotency-key>   → event id, TTL = retention
//	q/<webhook-id><event-id>       queue record (fan-out) of one append, keyed by its last event (queue.go)
//	w/<tenant>/<webhook-id>        webhook record (JSON)
//	y/<tenant>/<type-name>         event type record (JSON)
//
// A tenant name never contains '/', so one tenant's prefix is never a prefix
// of another's.
const (
	pfxEvent     = 'e'
	pfxIdem      = 'i'
	pfxQueue     = 'q'
	pfxWebhook   = 'w'
	pfxEventType = 'y'
)

func tenantKey(pfx byte, tenant string, extra int) []byte {
	k := make([]byte, 0, 3+len(tenant)+extra)
	k = append(k, pfx, '/')
	k = append(k, tenant...)
	return append(k, '/')
}

func eventKey(tenant string, id ID) []byte {
	return append(tenantKey(pfxEvent, tenant, 16), id[:]...)
}

func idemKey(tenant, key string) []byte {
	return append(tenantKey(pfxIdem, tenant, len(key)), key...)
}

func webhookKey(tenant string, id ID) []byte {
	return append(tenantKey(pfxWebhook, tenant, 16), id[:]...)
}

func eventTypeKey(tenant, name string) []byte {
	return append(tenantKey(pfxEventType, tenant, len(name)), name...)
}

// hookKey is pfx/<webhook-id>, with room for extra bytes after it.
func hookKey(pfx byte, webhook ID, extra int) []byte {
	k := make([]byte, 0, 2+len(webhook)+extra)
	k = append(k, pfx, '/')
	return append(k, webhook[:]...)
}

func queuePrefix(webhook ID) []byte { return hookKey(pfxQueue, webhook, 16) }

func queueKey(webhook, event ID) []byte {
	return append(queuePrefix(webhook), event[:]...)
}

// ValidTenant reports whether t can be used as a tenant name:
// 1..64 characters of [A-Za-z0-9._-].
func ValidTenant(t string) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
