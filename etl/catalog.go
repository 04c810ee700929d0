package etl

// nodeTypes is the node catalog, in the order GET .../workflows/catalog
// lists it.
func (e *Engine) nodeTypes() []*NodeType {
	return []*NodeType{
		e.fileSource(),
		e.csvSource(),
		e.gpkgSource(),
		e.postgisSource(),
		e.wfsSource(),
		e.reprojectNode(),
		e.simplifyNode(),
		e.bufferNode(),
		e.clipNode(),
		e.filterNode(),
		e.centroidNode(),
		e.convexHullNode(),
		e.dissolveNode(),
		e.unionNode(),
		e.intersectionNode(),
		e.differenceNode(),
		e.validateNode(),
		e.selectNode(),
		e.renameNode(),
		e.castNode(),
		e.calculateNode(),
		e.attributeJoinNode(),
		e.spatialJoinNode(),
		e.geojsonSink(),
		e.geopackageSink(),
		e.postgisSink(),
		e.csvSink(),
		e.shapefileSink(),
		e.flatgeobufSink(),
		e.geoparquetSink(),
		e.waitNode(),
	}
}
