package etl

import (
	"encoding/json"
	"strings"
	"testing"

	geoetl "github.com/geoetl/geoetl"
)

// fieldsOf validates a definition and returns its field errors.
func fieldsOf(t *testing.T, e *Engine, def string) map[string][]string {
	t.Helper()
	err := e.Validate(json.RawMessage(def))
	if err == nil {
		return nil
	}
	if geoetl.ErrorCode(err) != geoetl.EINVALID {
		t.Fatalf("Validate returned a %q error: %v", geoetl.ErrorCode(err), err)
	}
	return geoetl.ErrorFields(err)
}

func TestValidate_NamesTheBadNodeAndParameter(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	cases := []struct {
		name, def, field, contains string
	}{
		{"UnknownType", `{"nodes":[{"id":"wgs","type":"geoprocessing.teleport"}]}`, "nodes[wgs].type", "unknown node type"},
		{"MissingRequiredParameter", chain(node{id: "src", typ: "data_source.csv_geometry", params: map[string]any{}}, geojsonOut("o.json")), "nodes[src].parameters.file_path", "is required"},
		{"StringWhereNumberNeeded", chain(src("a.json"), node{id: "buf", typ: "geoprocessing.buffer", params: map[string]any{"distance": "far"}}, geojsonOut("o.json")), "nodes[buf].parameters.distance", "must be a number"},
		{"IntegerGivenFraction", chain(src("a.json"), node{id: "buf", typ: "geoprocessing.buffer", params: map[string]any{"distance": 1, "segments": 2.5}}, geojsonOut("o.json")), "nodes[buf].parameters.segments", "integer"},
		{"UnknownEnumValue", chain(src("a.json"), node{id: "v", typ: "geoprocessing.validate_geometry", params: map[string]any{"action": "ignore"}}, geojsonOut("o.json")), "nodes[v].parameters.action", "must be one of"},
		{"UnknownParameterName", chain(node{id: "src", typ: "data_source.file", params: map[string]any{"file_pat": "a.json"}}, geojsonOut("o.json")), "nodes[src].parameters.file_pat", "has no parameter"},
		{"DanglingEdge", `{"nodes":[{"id":"src","type":"data_source.file","parameters":{"file_path":"a.json"}}],"edges":[{"from":"src","to":"nowhere"}]}`, "edges[0].to", `no node has id "nowhere"`},
		{"DuplicateNodeID", `{"nodes":[{"id":"a","type":"control.wait","parameters":{"seconds":1}},{"id":"a","type":"control.wait","parameters":{"seconds":1}}]}`, "nodes[a].id", "duplicate"},
		{"SinkWithoutInput", `{"nodes":[{"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.json"}}]}`, "nodes[out]", "needs at least 1 input"},
		{"SourceWithInput", graph([]node{src("a.json"), {id: "s2", typ: "data_source.file", params: map[string]any{"file_path": "b.json"}}}, [][2]string{{"src", "s2"}}), "edges[0].to", "takes no input"},
		{"IntersectionWithOneInput", chain(src("a.json"), node{id: "x", typ: "geoprocessing.intersection", params: map[string]any{}}, geojsonOut("o.json")), "nodes[x]", "exactly 2"},
		{"BadFilterExpression", chain(src("a.json"), node{id: "f", typ: "geoprocessing.filter", params: map[string]any{"expression": "kind == "}}, geojsonOut("o.json")), "nodes[f].parameters.expression", "invalid expression"},
		{"PathEscapingDataFolder", chain(src("../etc/passwd"), geojsonOut("o.json")), "nodes[src].parameters.file_path", "inside the data folder"},
		{"AbsolutePath", chain(src("/etc/passwd"), geojsonOut("o.json")), "nodes[src].parameters.file_path", "relative"},
		{"OutputEscapingDataFolder", chain(src("a.json"), geojsonOut("out/../../x.json")), "nodes[out].parameters.output_path", "inside the data folder"},
		{"PrivateURL", chain(node{id: "src", typ: "data_source.file", params: map[string]any{"url": "http://127.0.0.1:9/x.json"}}, geojsonOut("o.json")), "nodes[src].parameters.url", "private"},
		{"UnsupportedCRS", chain(src("a.json"), node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:27200"}}, geojsonOut("o.json")), "nodes[p].parameters.target_crs", "unsupported"},
		{"BadBBox", chain(src("a.json"), node{id: "c", typ: "geoprocessing.clip", params: map[string]any{"bbox": []any{1, 2, 0, 3}}}, geojsonOut("o.json")), "nodes[c].parameters.bbox", "minimum"},
		{"UndeclaredTemplateParameter", chain(src("{{parameters.region}}.json"), geojsonOut("o.json")), "nodes[src].parameters.file_path", "undeclared parameter"},
		{"UnknownRunVariable", chain(src("{{run.tomorrow}}.json"), geojsonOut("o.json")), "nodes[src].parameters.file_path", "unknown run variable"},
		{"BadParameterType", `{"parameters":{"region":{"type":"colour"}},"nodes":[]}`, "parameters.region.type", "unknown parameter type"},
		{"DefaultOfWrongType", `{"parameters":{"n":{"type":"integer","defaultValue":"five"}},"nodes":[]}`, "parameters.n.defaultValue", "integer"},
		{"ExecutionNegativeTimeout", `{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":1},"execution":{"timeoutSeconds":-1}}]}`, "nodes[w].execution.timeoutSeconds", "negative"},
		{"NodeWithoutID", `{"nodes":[{"type":"control.wait","parameters":{"seconds":1}}]}`, "nodes[0].id", "required"},
		{"WrongJSONShape", `{"nodes":{"id":"x"}}`, "nodes", "must be an array"},
		{"WrongExecutionType", `{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":1},"execution":{"maxRetries":"two"}}]}`, "nodes.execution.maxRetries", "must be a number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields := fieldsOf(t, env.e, c.def)
			msgs, ok := fields[c.field]
			if !ok {
				t.Fatalf("no error for %s; got %v", c.field, fields)
			}
			if !strings.Contains(strings.Join(msgs, "; "), c.contains) {
				t.Errorf("%s: %v, want a message containing %q", c.field, msgs, c.contains)
			}
		})
	}
}

func TestValidate_ReportsCycles(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	def := graph([]node{
		src("a.json"),
		{id: "a", typ: "geoprocessing.centroid", params: map[string]any{}},
		{id: "b", typ: "geoprocessing.union", params: map[string]any{}},
		geojsonOut("o.json"),
	}, [][2]string{{"src", "b"}, {"b", "a"}, {"a", "b"}, {"b", "out"}})
	fields := fieldsOf(t, env.e, def)
	if !strings.Contains(strings.Join(fields["edges"], ""), "cycle") {
		t.Fatalf("cycle not reported: %v", fields)
	}
}

func TestValidate_AcceptsGoodDefinitions(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for name, def := range map[string]string{
		"NoNodes":                   `{"nodes":[],"edges":[]}`,
		"EmptyObject":               `{}`,
		"UnknownTopLevelIgnored":    `{"metadata":{"name":"x"},"nodes":[],"honuaVersion":3,"layout":{"zoom":2}}`,
		"TemplateInNumberParameter": `{"parameters":{"d":{"type":"number","defaultValue":5}},"nodes":[{"id":"src","type":"data_source.file","parameters":{"file_path":"a.json"}},{"id":"b","type":"geoprocessing.buffer","parameters":{"distance":"{{ parameters.d }}"}},{"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o/{{run.date}}.json"}}],"edges":[{"from":"src","to":"b"},{"from":"b","to":"out"}]}`,
		"APIExample":                apiExample,
	} {
		t.Run(name, func(t *testing.T) {
			if fields := fieldsOf(t, env.e, def); fields != nil {
				t.Fatalf("rejected: %v", fields)
			}
		})
	}
}

// apiExample is the definition shown in API.md.
const apiExample = `{"metadata": {"name": "Parcels to GeoPackage", "description": "", "tags": []},
 "parameters": {"region": {"type": "string", "defaultValue": "north", "required": false}},
 "nodes": [
   {"id": "src", "type": "data_source.file", "parameters": {"file_path": "parcels/{{parameters.region}}.geojson"}},
   {"id": "wgs", "type": "geoprocessing.reproject", "parameters": {"target_crs": "EPSG:4326"}},
   {"id": "out", "type": "data_sink.geopackage", "parameters": {"output_path": "out/parcels.gpkg", "table_name": "parcels"},
    "execution": {"timeoutSeconds": 600, "maxRetries": 0, "continueOnError": false}}],
 "edges": [{"from": "src", "to": "wgs"}, {"from": "wgs", "to": "out"}]}`

func TestValidate_RejectsNonJSON(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for _, def := range []string{``, `nope`, `[1,2]`, `{"nodes":[]} trailing`} {
		err := env.e.Validate(json.RawMessage(def))
		if geoetl.ErrorCode(err) != geoetl.EINVALID {
			t.Errorf("Validate(%q) = %v, want an EINVALID error", def, err)
		}
	}
}

func TestParameters_ListsDeclarationsSortedByName(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ps, err := env.e.Parameters(json.RawMessage(`{"parameters":{
		"region":{"type":"string","defaultValue":"north","required":false,"description":"Where"},
		"day":{"type":"date","required":true}},"nodes":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "day" || !ps[0].Required || ps[0].Type != "date" ||
		ps[1].Name != "region" || ps[1].DefaultValue != "north" || ps[1].Description != "Where" {
		t.Errorf("Parameters = %+v", ps)
	}
}

func TestCatalog_ListsEveryNodeTypeAsJSON(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	cat := env.e.Catalog()
	want := []string{"data_source.file", "data_source.csv_geometry", "data_source.geopackage", "data_source.postgis", "data_source.wfs",
		"geoprocessing.reproject", "geoprocessing.simplify", "geoprocessing.buffer", "geoprocessing.clip", "geoprocessing.filter",
		"geoprocessing.centroid", "geoprocessing.convex_hull", "geoprocessing.dissolve", "geoprocessing.union",
		"geoprocessing.intersection", "geoprocessing.difference", "geoprocessing.validate_geometry",
		"data_sink.geojson", "data_sink.geopackage", "data_sink.postgis", "data_sink.csv_geometry", "control.wait"}
	got := map[string]NodeType{}
	for _, nt := range cat {
		got[nt.Type] = nt
	}
	for _, w := range want {
		if _, ok := got[w]; !ok {
			t.Errorf("catalog lacks %s", w)
		}
	}
	b, err := json.Marshal(cat)
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"name":"file_path","type":"string","required":false`) ||
		!strings.Contains(string(b), `"name":"segments","type":"integer","required":false,"default":8`) {
		t.Errorf("catalog JSON lacks parameter details: %.400s", b)
	}
}

func TestConnectionsFromEnv_LowerCasesNames(t *testing.T) {
	t.Parallel()
	got := ConnectionsFromEnv([]string{
		"GEOETL_CONNECTION_WAREHOUSE=postgres://u@h/db",
		"GEOETL_CONNECTION_Gis2=postgres://x",
		"GEOETL_CONNECTION_=postgres://nameless",
		"GEOETL_CONNECTION_EMPTY=",
		"PATH=/bin",
	})
	if len(got) != 2 || got["warehouse"] != "postgres://u@h/db" || got["gis2"] != "postgres://x" {
		t.Errorf("ConnectionsFromEnv = %v", got)
	}
}
