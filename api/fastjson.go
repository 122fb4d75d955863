package api

import "encoding/json"

// fastBody decodes the common shapes of a publish body — one event or
// {"events":[...]}, with the keys type, data and id — in one pass, where
// encoding/json scans the body twice and reflects. ok is false whenever
// the body is anything it does not decode exactly as encoding/json would:
// an unknown, escaped, differently cased or repeated key, refs, a type or
// id that is null or holds an escape or a non-ASCII byte, invalid JSON. The
// caller then decodes it with encoding/json, which also words the errors.
// FuzzFastBody checks the two agree. Nesting deeper than maxJSONDepth is
// refused too (the caller's jsonDepthOK then words it).
func fastBody(body []byte) (w wireBody, ok bool) {
	p := fastParser{b: body, own: make([]byte, 0, len(body))}
	p.ws()
	if !p.event(&w.wireEvent, &w.Events) {
		return wireBody{}, false
	}
	p.ws()
	return w, p.i == len(p.b)
}

// fastEvent is fastBody for one event (an NDJSON line).
func fastEvent(line []byte) (w wireEvent, ok bool) {
	p := fastParser{b: line, own: make([]byte, 0, len(line))}
	p.ws()
	if !p.event(&w, nil) {
		return wireEvent{}, false
	}
	p.ws()
	return w, p.i == len(p.b)
}

type fastParser struct {
	b        []byte
	i        int
	depth    int    // objects and arrays open, as jsonDepthOK counts them
	own      []byte // one allocation holds every data value (cap never grows)
	lastType string // consecutive events mostly share a type: one string
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// event parses one event object into w; with events not nil, an "events"
// key is accepted too (the top level).
func (p *fastParser) event(w *wireEvent, events **[]wireEvent) bool {
	var seenType, seenData, seenID, seenEvents bool
	return p.list('{', '}', func() bool {
		key, ok := p.plainString()
		if !ok || !p.colon() {
			return false
		}
		switch string(key) {
		case "type":
			s, ok := p.plainString()
			if seenType || !ok {
				return false
			}
			seenType = true
			if string(s) != p.lastType {
				p.lastType = string(s)
			}
			w.Type = p.lastType
		case "id":
			s, ok := p.plainString()
			if seenID || !ok {
				return false
			}
			seenID = true
			w.ID = string(s)
		case "data":
			start := p.i
			if seenData || !p.value() {
				return false
			}
			seenData = true
			n := len(p.own)
			p.own = append(p.own, p.b[start:p.i]...)
			w.Data = json.RawMessage(p.own[n:len(p.own):len(p.own)])
		case "events":
			if events == nil || seenEvents {
				return false
			}
			seenEvents = true
			if p.literal("null") {
				return true
			}
			list, ok := p.events()
			if !ok {
				return false
			}
			*events = &list
		default:
			return false
		}
		return true
	})
}

func (p *fastParser) events() ([]wireEvent, bool) {
	list := []wireEvent{}
	ok := p.list('[', ']', func() bool {
		if len(list) == maxEventsPerRequest {
			return false // encoding/json words the error
		}
		var w wireEvent
		if !p.event(&w, nil) {
			return false
		}
		list = append(list, w)
		return true
	})
	return list, ok
}

// list parses an object or array (opened by open, closed by close) whose
// members item parses, comma-separated: the one loop behind every object
// and array here.
func (p *fastParser) list(open, close byte, item func() bool) bool {
	if !p.open(open) {
		return false
	}
	defer p.close()
	p.ws()
	if p.eat(close) {
		return true
	}
	for {
		if !item() {
			return false
		}
		p.ws()
		if p.eat(close) {
			return true
		}
		if !p.eat(',') {
			return false
		}
		p.ws()
	}
}

// colon reads the ':' after an object key, with the spaces around it.
func (p *fastParser) colon() bool {
	p.ws()
	if !p.eat(':') {
		return false
	}
	p.ws()
	return true
}

// plainString reads a string of printable ASCII without escapes and
// returns its contents.
func (p *fastParser) plainString() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// value skips one JSON value, checking its grammar as encoding/json's
// scanner does (strings may hold any byte from 0x20 up).
func (p *fastParser) value() bool {
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.list('{', '}', func() bool { return p.string() && p.colon() && p.value() })
	case c == '[':
		return p.list('[', ']', p.value)
	case c == '"':
		return p.string()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return false
}

// open eats c, an object's or array's opening, within maxJSONDepth;
// close is called when it is closed (or the parse fails inside it).
func (p *fastParser) open(c byte) bool {
	if p.depth == maxJSONDepth || !p.eat(c) {
		return false
	}
	p.depth++
	return true
}

func (p *fastParser) close() { p.depth-- }

func (p *fastParser) literal(lit string) bool {
	if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
		p.i += len(lit)
		return true
	}
	return false
}

func (p *fastParser) string() bool {
	if !p.eat('"') {
		return false
	}
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if p.i >= len(p.b) {
				return false
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(p.b)-p.i < 4 {
					return false
				}
				for _, h := range p.b[p.i : p.i+4] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				p.i += 4
			default:
				return false
			}
		}
	}
	return false
}

// number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *fastParser) number() bool {
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return false
	}
	if p.eat('.') {
		if p.digits() == 0 {
			return false
		}
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

func (p *fastParser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}
