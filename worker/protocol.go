package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/geoetl/geoetl"
)

// The protocol between serve and a worker is one JSON object per line:
// serve writes to the worker's standard input, the worker answers on its
// standard output. A worker announces itself with "ready", then takes one
// "run" at a time; while it runs it streams "node" and "log" messages and
// ends with exactly one "result". "cancel" asks it to stop the current run.
const (
	msgReady  = "ready"
	msgRun    = "run"
	msgCancel = "cancel"
	msgNode   = "node"
	msgLog    = "log"
	msgResult = "result"
)

type message struct {
	Type    string          `json:"type"`
	PID     int             `json:"pid,omitempty"`
	Request json.RawMessage `json:"request,omitempty"`
	Node    *geoetl.NodeRun `json:"node,omitempty"`
	Level   string          `json:"level,omitempty"`
	NodeID  string          `json:"nodeId,omitempty"`
	Message string          `json:"message,omitempty"`
	Summary *wireSummary    `json:"summary,omitempty"`
	Error   *wireError      `json:"error,omitempty"`
}

// wireSummary is geoetl.RunSummary with its Extra member, which the
// summary's own JSON form leaves out.
type wireSummary struct {
	FeaturesRead    int64          `json:"featuresRead"`
	FeaturesWritten int64          `json:"featuresWritten"`
	Extra           map[string]any `json:"extra,omitempty"`
}

func toWireSummary(s geoetl.RunSummary) *wireSummary {
	return &wireSummary{FeaturesRead: s.FeaturesRead, FeaturesWritten: s.FeaturesWritten, Extra: s.Extra}
}

func (w *wireSummary) summary() geoetl.RunSummary {
	if w == nil {
		return geoetl.RunSummary{}
	}
	return geoetl.RunSummary{FeaturesRead: w.FeaturesRead, FeaturesWritten: w.FeaturesWritten, Extra: w.Extra}
}

// wireError carries a run's error across the process boundary: its full
// text, and the code, message and fields of the *geoetl.Error inside it,
// so that callers see the same text and the same code as in process.
type wireError struct {
	Text    string              `json:"text"`
	Code    string              `json:"code,omitempty"`
	Message string              `json:"message,omitempty"`
	Fields  map[string][]string `json:"fields,omitempty"`
}

func toWireError(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Text: err.Error()}
	var ge *geoetl.Error
	if errors.As(err, &ge) {
		w.Code, w.Message, w.Fields = ge.Code, ge.Message, ge.Fields
	}
	return w
}

func (w *wireError) err() error {
	if w == nil {
		return nil
	}
	if w.Code == "" {
		return errors.New(w.Text)
	}
	return &remoteError{text: w.Text, inner: &geoetl.Error{Code: w.Code, Message: w.Message, Fields: w.Fields}}
}

// remoteError is an error that came back from a worker: it reads as it
// did there and unwraps to the *geoetl.Error it held.
type remoteError struct {
	text  string
	inner *geoetl.Error
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.inner }

// encodeRequest serialises every field of a run request except its
// recorder, which stays with the caller. It does so generically, through
// the struct's own JSON form, so that fields added to geoetl.RunRequest
// cross the process boundary without a change here.
func encodeRequest(req geoetl.RunRequest) (json.RawMessage, error) {
	req.Recorder = nil
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("the run request cannot be sent to a worker: %w", err)
	}
	return b, nil
}

// decodeRequest is the worker's side of encodeRequest. Numbers stay
// json.Number so that large integer parameters keep every digit.
func decodeRequest(raw json.RawMessage) (geoetl.RunRequest, error) {
	var req geoetl.RunRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("bad run request: %w", err)
	}
	return req, nil
}
