package service

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/geoetl/geoetl"
)

// Export is the document that export writes and import reads.
type Export struct {
	Version   int                `json:"version"`
	Schedules []*geoetl.Schedule `json:"schedules"`
}

// ExportSchedules returns all of p's tenant's schedules, with webhook URLs
// masked (importing into the same tenant keeps the stored secrets).
func (s *Service) ExportSchedules(ctx context.Context, p geoetl.Principal) (*Export, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	out := &Export{Version: 1, Schedules: []*geoetl.Schedule{}}
	f := geoetl.ScheduleFilter{TenantID: p.TenantID, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}}
	for {
		page, _, next, err := s.Store.FindSchedules(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, sc := range page {
			out.Schedules = append(out.Schedules, MaskedSchedule(sc))
		}
		if next == "" {
			return out, nil
		}
		f.Cursor = next
	}
}

// MaxImportItems bounds one import.
const MaxImportItems = 10000

// ImportResult reports what import did with one item.
type ImportResult struct {
	Index  int                 `json:"index"`
	Name   string              `json:"name"`
	Action string              `json:"action"` // created, updated, failed
	ID     string              `json:"id,omitempty"`
	Error  string              `json:"error,omitempty"`
	Errors map[string][]string `json:"errors,omitempty"`
}

// ImportSchedules creates or updates schedules by name. Each item is
// applied on its own; a bad item is reported and does not stop the rest.
// Items may name their workflow by workflowId or workflowName.
func (s *Service) ImportSchedules(ctx context.Context, p geoetl.Principal, body []byte) ([]ImportResult, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	if err := CheckJSONText(body); err != nil {
		return nil, err
	}
	var doc struct {
		Schedules []json.RawMessage `json:"schedules"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Schedules == nil {
		var arr []json.RawMessage
		if err2 := json.Unmarshal(body, &arr); err2 != nil {
			return nil, invalid("schedules", "expected {\"schedules\":[...]} or a JSON array of schedules")
		}
		doc.Schedules = arr
	}
	if len(doc.Schedules) > MaxImportItems {
		return nil, invalid("schedules", fmt.Sprintf("at most %d schedules per import", MaxImportItems))
	}
	// Every item is decoded first: the tenant comes from the caller only,
	// and an item that names another tenant refuses the whole import
	// before anything changes.
	items := decodeImportItems(doc.Schedules)
	for i := range items {
		if claimed := items[i].claimed; claimed != nil && *claimed != p.TenantID {
			return nil, &geoetl.Error{Code: geoetl.EFORBIDDEN, Message: "tenantId must be your own tenant.", Fields: map[string][]string{fmt.Sprintf("schedules[%d].tenantId", i): {"must be your own tenant"}}}
		}
	}
	// Workflows are read once per import, not once per item.
	batch := *s
	batch.Store = &workflowCache{Store: s.Store, found: map[string]*geoetl.Workflow{}}
	if s.Engine != nil {
		batch.Engine = &parametersCache{WorkflowEngine: s.Engine, found: map[string]parametersOf{}}
	}
	im := &importer{s: &batch, p: p, results: make([]ImportResult, len(items)), pending: map[string]bool{},
		exists: map[string]string{}, workflowIDs: map[string]workflowByName{}}
	err := im.run(ctx, items)
	if im.changed {
		s.Scheduler.Changed(ctx)
	}
	if err != nil {
		return nil, err
	}
	return im.results, nil
}

// importBatch is how many new schedules an import writes per transaction,
// and how many items' names it looks up at once. (Validating the next
// batch on another goroutine while one was written did not measurably
// shorten an import of 100,000 on a shared 2-core machine; the store
// encodes each batch's history beside its writes instead.)
const importBatch = 2500

// importer creates an import's new schedules in batched transactions;
// updates of existing ones go one by one as before.
type importer struct {
	s       *Service
	p       geoetl.Principal
	results []ImportResult
	creates []*geoetl.Schedule
	index   []int           // results index of each create
	pending map[string]bool // names in creates
	// exists holds the ids of the schedules, by name, that items looked
	// up so far found, and of those the import created.
	exists      map[string]string
	workflowIDs map[string]workflowByName
	changed     bool
}

type workflowByName struct {
	id  string
	err error
}

// importItem is an item decoded, before it is applied.
type importItem struct {
	upd     geoetl.ScheduleUpdate
	extra   ScheduleExtras
	err     error
	claimed *string // the tenantId the item names, valid or not
}

// decodeImportItems decodes every item, on as many goroutines as there
// are processors: items decode independently, and decoding is a tenth of
// an import's CPU that would otherwise leave the other core idle while
// the first batch waits for it.
func decodeImportItems(raws []json.RawMessage) []importItem {
	items := make([]importItem, len(raws))
	decode := func(from, to int) {
		for i := from; i < to; i++ {
			it := &items[i]
			it.upd, it.extra, it.err = DecodeScheduleJSON(raws[i])
			it.claimed = it.extra.TenantID
			if it.err != nil {
				// Not a valid item, but it may still name a tenant.
				var item struct {
					TenantID *string `json:"tenantId"`
				}
				if json.Unmarshal(raws[i], &item) == nil {
					it.claimed = item.TenantID
				}
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(raws)/importDecodeShare+1)
	per := (len(raws) + workers - 1) / workers
	var wg sync.WaitGroup
	panics := make([]any, workers)
	for w := 1; w < workers; w++ {
		wg.Go(func() {
			// Raised again on the request's goroutine, whose recovery
			// answers 500 instead of the process ending.
			defer func() { panics[w] = recover() }()
			decode(min(len(raws), w*per), min(len(raws), (w+1)*per))
		})
	}
	decode(0, min(len(raws), per))
	wg.Wait()
	for _, v := range panics {
		if v != nil {
			panic(v)
		}
	}
	return items
}

// importDecodeShare is the fewest items worth another goroutine.
const importDecodeShare = 500

func (im *importer) run(ctx context.Context, items []importItem) error {
	for at := 0; at < len(items); at += importBatch {
		if err := im.addChunk(ctx, at, items[at:min(len(items), at+importBatch)]); err != nil {
			return err
		}
	}
	return im.write(ctx)
}

// addChunk applies the items from index at: their names are looked up in
// one read, then each is applied in order.
func (im *importer) addChunk(ctx context.Context, at int, items []importItem) error {
	var names []string
	for _, it := range items {
		if it.err == nil && it.upd.Name != nil && *it.upd.Name != "" {
			if _, known := im.exists[*it.upd.Name]; !known {
				names = append(names, *it.upd.Name)
			}
		}
	}
	found, err := im.s.Store.FindScheduleIDsByName(ctx, im.p.TenantID, names)
	if err != nil {
		return err
	}
	for name, id := range found {
		im.exists[name] = id
	}
	for k := range items {
		if err := im.add(ctx, at+k, items[k]); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) add(ctx context.Context, i int, it importItem) error {
	r := ImportResult{Index: i}
	upd, extra := it.upd, it.extra
	if it.err != nil {
		im.results[i] = failed(r, it.err)
		return nil
	}
	if upd.Name != nil {
		r.Name = *upd.Name
	}
	if im.pending[r.Name] {
		// A later item of the same name updates the earlier one: the
		// earlier one is written first, so it finds it.
		if err := im.write(ctx); err != nil {
			return err
		}
	}
	if extra.TenantID != nil && *extra.TenantID != im.p.TenantID {
		im.results[i] = failed(r, geoetl.Errorf(geoetl.EFORBIDDEN, "tenantId must be your own tenant"))
		return nil
	}
	if extra.WorkflowName != "" && (upd.WorkflowID == nil || *upd.WorkflowID == "") {
		w, seen := im.workflowIDs[extra.WorkflowName]
		if !seen {
			w.id, w.err = im.s.workflowIDByName(ctx, im.p.TenantID, extra.WorkflowName)
			if w.err == nil || geoetl.ErrorCode(w.err) == geoetl.EINVALID {
				im.workflowIDs[extra.WorkflowName] = w
			}
		}
		if w.err != nil {
			im.results[i] = failed(r, w.err)
			return nil
		}
		id := w.id
		upd.WorkflowID = &id
	}
	if r.Name == "" {
		im.results[i] = failed(r, invalid("name", "is required"))
		return nil
	}
	if id, ok := im.exists[r.Name]; ok {
		upd.ExpectedVersion = nil
		sc, err := im.s.UpdateSchedule(ctx, im.p, id, upd)
		if err != nil {
			im.results[i] = failed(r, err)
			return nil
		}
		r.Action, r.ID = "updated", sc.ID
		im.results[i] = r
		return nil
	}
	sc, err := im.s.newSchedule(ctx, im.p, upd)
	if err != nil {
		im.results[i] = failed(r, err)
		return nil
	}
	im.results[i] = r
	im.creates, im.index = append(im.creates, sc), append(im.index, i)
	im.pending[r.Name] = true
	if len(im.creates) >= importBatch {
		return im.write(ctx)
	}
	return nil
}

// write creates the pending schedules in one transaction and reports
// their items.
func (im *importer) write(ctx context.Context) error {
	if len(im.creates) == 0 {
		return nil
	}
	creates, index := im.creates, im.index
	im.creates, im.index, im.pending = nil, nil, map[string]bool{}
	s, p := im.s, im.p
	// The tenant's schedule limit is checked once per batch, in its
	// transaction.
	errs, err := s.Store.CreateSchedules(ctx, creates, s.Limits.MaxSchedules, func(sc *geoetl.Schedule) *geoetl.AuditEntry {
		return s.auditEntry(p, "schedule.create", "schedule", sc.ID, nil, sc)
	})
	if err != nil {
		return err
	}
	for k, sc := range creates {
		r := im.results[index[k]]
		if errs[k] != nil {
			im.results[index[k]] = failed(r, errs[k])
			continue
		}
		r.Action, r.ID = "created", sc.ID
		im.results[index[k]] = r
		im.exists[sc.Name] = sc.ID
		im.changed = true
	}
	return nil
}

// workflowCache reads each workflow once for the length of an import.
type workflowCache struct {
	geoetl.Store
	found map[string]*geoetl.Workflow
}

func (c *workflowCache) FindWorkflowByID(ctx context.Context, tenantID, id string) (*geoetl.Workflow, error) {
	key := tenantID + "/" + id
	if w, ok := c.found[key]; ok {
		return w, nil
	}
	w, err := c.Store.FindWorkflowByID(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	c.found[key] = w
	return w, nil
}

// parametersCache parses each workflow definition once for the length of
// an import, to check every item's parameter values against it.
type parametersCache struct {
	geoetl.WorkflowEngine
	found map[string]parametersOf
}

type parametersOf struct {
	declared []geoetl.WorkflowParameter
	err      error
}

func (c *parametersCache) Parameters(definition json.RawMessage) ([]geoetl.WorkflowParameter, error) {
	if p, ok := c.found[string(definition)]; ok {
		return p.declared, p.err
	}
	declared, err := c.WorkflowEngine.Parameters(definition)
	c.found[string(definition)] = parametersOf{declared, err}
	return declared, err
}

func (s *Service) workflowIDByName(ctx context.Context, tenantID, name string) (string, error) {
	f := geoetl.WorkflowFilter{TenantID: tenantID, Q: name, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}}
	ws, _, _, err := s.Store.FindWorkflows(ctx, f)
	if err != nil {
		return "", err
	}
	for _, w := range ws {
		if w.Name == name {
			return w.ID, nil
		}
	}
	return "", invalid("workflowName", "no workflow named "+name)
}

func failed(r ImportResult, err error) ImportResult {
	r.Action = "failed"
	r.Error = geoetl.ErrorMessage(err)
	r.Errors = geoetl.ErrorFields(err)
	return r
}
