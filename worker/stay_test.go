package worker

import (
	"encoding/json"
	"testing"

	"github.com/geoetl/geoetl"
)

func TestStaysInProcess_DecidesAgainForANewVersionOfTheWorkflow(t *testing.T) {
	var pl Pool
	wf := &geoetl.Workflow{ID: "wf", Version: 1, Definition: json.RawMessage(`{"nodes":[]}`)}
	if !pl.staysInProcess(wf) {
		t.Fatal("a workflow with no nodes left the process")
	}
	wf = &geoetl.Workflow{ID: "wf", Version: 2, Definition: json.RawMessage(
		`{"nodes":[{"id":"src","type":"data_source.file","parameters":{"file_path":"a.geojson"}}]}`)}
	if pl.staysInProcess(wf) {
		t.Fatal("version 2 reads a file but was kept in process by version 1's answer")
	}
}
