package config

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// DumpVersion is the version of the JSON schema Dump writes, its top-level "version". It
// changes only when a field changes meaning or goes away; new fields keep the version.
const DumpVersion = 1

// Dump writes cfg as indented JSON: the normalized model (defaults filled in, ranges and
// groups expanded), keyed by keepalived's words as the json tags of the model say,
// without positions, so that two configurations diff by meaning. Durations are written
// in seconds as keepalived writes them ("1.5"), addresses and prefixes as text, empty
// and zero optional fields left out. docs/config.md documents the schema.
func Dump(cfg *Config) ([]byte, error) {
	out := map[string]any{"version": DumpVersion, "config": plain(reflect.ValueOf(cfg).Elem())}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

var (
	durationType      = reflect.TypeFor[time.Duration]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// plain turns a model value into maps, slices, strings, numbers and booleans that
// encoding/json writes in a stable order (maps sort their keys).
func plain(v reflect.Value) any {
	if v.Type() == durationType {
		return seconds(time.Duration(v.Int()))
	}
	if v.Type().Implements(textMarshalerType) && v.Kind() != reflect.Pointer {
		b, _ := v.Interface().(encoding.TextMarshaler).MarshalText()
		return string(b)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return plain(v.Elem())
	case reflect.Struct:
		m := make(map[string]any)
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if (strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")) && fv.IsZero() {
				continue
			}
			if strings.Contains(opts, "omitempty") && (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 {
				continue
			}
			m[name] = plain(fv)
		}
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = plain(v.Index(i))
		}
		return out
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	}
	return v.Interface()
}

// seconds writes d as keepalived's decimal seconds: "60", "0.25", "1.000001".
func seconds(d time.Duration) string {
	s := strconv.FormatInt(int64(d/time.Second), 10)
	if us := int64(d%time.Second) / int64(time.Microsecond); us != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", us), "0")
	}
	return s
}
