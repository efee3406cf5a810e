/** ONNX graph building and serialisation. */

export {attr, DEFAULT_IR_VERSION, DEFAULT_OPSET, GraphBuilder, modelStats, onnxDataType, TensorDataType} from './graph.js'
export type {AttributeInput, AttributeValue, Dim, GraphBuilderOptions, Initializer, NodeDef, OnnxGraph, OnnxModel, ValueInfo} from './graph.js'
export {modelByteLength, modelChunks, serializeModel, writeModel} from './write.js'
export {float16ArrayToFloat32, float32ArrayToFloat16, float32ToFloat16Bits} from './float16.js'
