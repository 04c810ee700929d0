package etl

import "github.com/geoetl/geoetl/etl/feature"

// The feature and attribute types live in etl/feature, where the format
// packages (etl/gpkg) can use them without importing the engine; these
// aliases keep their names short inside the engine.
type (
	Feature       = feature.Feature
	Property      = feature.Property
	Properties    = feature.Properties
	FieldType     = feature.FieldType
	Field         = feature.Field
	SchemaBuilder = feature.SchemaBuilder
)

// The field types a sink can declare.
const (
	FieldInteger  = feature.FieldInteger
	FieldReal     = feature.FieldReal
	FieldText     = feature.FieldText
	FieldBoolean  = feature.FieldBoolean
	FieldDate     = feature.FieldDate
	FieldDateTime = feature.FieldDateTime
	FieldJSON     = feature.FieldJSON
	FieldBinary   = feature.FieldBinary
)

// batchSize is how many features travel together between nodes; batching
// keeps channel overhead negligible next to the work per feature.
const batchSize = 512
