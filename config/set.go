package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// This file sets one setting from a string, by its dotted TOML key, for the
// environment and the command line. The keys come from the struct tags, so
// the TOML file, HOOKD_* variables and flags cannot disagree on a name.

var (
	durationType  = reflect.TypeFor[Duration]()
	durationsType = reflect.TypeFor[[]Duration]()
	stringsType   = reflect.TypeFor[[]string]()
)

// set parses value into the setting named by key ("server.listen").
func (c *Config) set(key, value string) error {
	f, ok := leaf(reflect.ValueOf(c).Elem(), key)
	if !ok {
		return fmt.Errorf("unknown setting %q", key)
	}
	switch f.Type() {
	case durationType:
		d, err := time.ParseDuration(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%s: not a duration (like 15s, 5m, 2h): %q", key, value)
		}
		f.Set(reflect.ValueOf(Duration{d}))
		return nil
	case durationsType:
		var ds []Duration
		for _, s := range splitList(value) {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%s: not a duration (like 15s, 5m, 2h): %q", key, s)
			}
			ds = append(ds, Duration{d})
		}
		f.Set(reflect.ValueOf(ds))
		return nil
	case stringsType:
		f.Set(reflect.ValueOf(splitList(value)))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(value)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: not an integer: %q", key, value)
		}
		f.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%s: not a boolean (true or false): %q", key, value)
		}
		f.SetBool(b)
	default:
		return fmt.Errorf("%s: can be set in the config file only", key)
	}
	return nil
}

// splitList splits a comma-separated list, trimming spaces; "" is empty.
func splitList(s string) []string {
	out := []string{}
	if strings.TrimSpace(s) == "" {
		return out
	}
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// leaf finds the field of a Config (given as v) that key names.
func leaf(v reflect.Value, key string) (reflect.Value, bool) {
	section, name, ok := strings.Cut(key, ".")
	if !ok {
		return reflect.Value{}, false
	}
	s, ok := byTag(v, section)
	if !ok || s.Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	return byTag(s, name)
}

func byTag(v reflect.Value, tag string) (reflect.Value, bool) {
	for i := 0; i < v.NumField(); i++ {
		if tomlName(v.Type().Field(i)) == tag {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

// keys lists every dotted key of Config, in declaration order.
func keys() []string {
	var out []string
	t := reflect.TypeFor[Config]()
	for i := 0; i < t.NumField(); i++ {
		s := t.Field(i)
		for j := 0; j < s.Type.NumField(); j++ {
			out = append(out, tomlName(s)+"."+tomlName(s.Type.Field(j)))
		}
	}
	return out
}
