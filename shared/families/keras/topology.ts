import { SpecError } from '../../errors';
import { Head } from '../layers/heads';

/** A Keras-style layer entry of a topology JSON: `{ class_name, config, ... }`. */
interface LayerEntry {
  class_name: string;
  config: Record<string, any>;
  name?: string;
}

/**
 * Layer classes tfleet trains on every backend; each has a gradient test on
 * wasm against cpu. Left out: DepthwiseConv2D and SeparableConv2D (wasm has
 * no DepthwiseConv2dNativeBackpropFilter yet) and UpSampling2D (tfjs-backend-cpu
 * 4.22's ResizeNearestNeighborGrad adds every image's gradient into the first
 * image's rows when the batch has more than one image).
 */
export const SUPPORTED_LAYERS = [
  'InputLayer', 'Dense', 'Dropout', 'Flatten', 'Reshape', 'Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Softmax',
  'Conv1D', 'Conv2D', 'Conv2DTranspose', 'MaxPooling1D', 'MaxPooling2D', 'AveragePooling1D', 'AveragePooling2D',
  'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D',
  'BatchNormalization', 'LayerNormalization', 'ZeroPadding2D',
  'Embedding', 'LSTM', 'GRU', 'SimpleRNN', 'Bidirectional', 'Add', 'Concatenate',
] as const;

/** What tfleet needs to know of a topology before it builds it. */
export interface TopologyInfo {
  /** The topology itself ({ class_name, config }), as tfjs's `modelFromJSON` reads it. */
  topology: Record<string, any>;
  /** The same with the output activation removed: the network trains on logits. */
  trainingTopology: Record<string, any>;
  inputShape: number[];
  head: Head;
  /** Units of the output layer, when a Dense layer gives them. */
  outputUnits: number | null;
}

const FIELD = 'model.topology';

function layersOf(topology: Record<string, any>): LayerEntry[] {
  const config = topology.config;
  const layers = Array.isArray(config) ? config : config?.layers;
  if (!Array.isArray(layers) || layers.length === 0) throw new SpecError(FIELD, 'has no layers (expected config.layers as written by model.toJSON())');
  return layers;
}

/** Class names of every layer, wrapped layers (Bidirectional) included. */
function classNames(layers: LayerEntry[]): string[] {
  return layers.flatMap((l) => [l.class_name, ...(l.config?.layer?.class_name ? [l.config.layer.class_name] : [])]);
}

function outputLayer(topology: Record<string, any>, layers: LayerEntry[]): LayerEntry {
  if (topology.class_name === 'Sequential') return layers[layers.length - 1];
  const outputs = topology.config.output_layers;
  if (!Array.isArray(outputs) || outputs.length !== 1) throw new SpecError(FIELD, `must have exactly one output, got ${Array.isArray(outputs) ? outputs.length : 'none'}`);
  const name = outputs[0][0];
  const layer = layers.find((l) => (l.name ?? l.config?.name) === name);
  if (!layer) throw new SpecError(FIELD, `names output layer '${name}', which is not among its layers`);
  return layer;
}

function inputShape(topology: Record<string, any>, layers: LayerEntry[]): number[] {
  let first: LayerEntry | undefined = layers[0];
  if (topology.class_name !== 'Sequential') {
    const inputs = topology.config.input_layers;
    if (!Array.isArray(inputs) || inputs.length !== 1) throw new SpecError(FIELD, `must have exactly one input, got ${Array.isArray(inputs) ? inputs.length : 'none'}`);
    first = layers.find((l) => (l.name ?? l.config?.name) === inputs[0][0]);
  }
  const shape = first?.config?.batch_input_shape ?? first?.config?.batch_shape;
  if (!Array.isArray(shape) || shape.length < 2 || shape.slice(1).some((d: unknown) => typeof d !== 'number' || d < 1)) {
    throw new SpecError(FIELD, `must declare a fixed input shape on its first layer (batch_input_shape [null, ...]), got ${JSON.stringify(shape)}`);
  }
  return shape.slice(1);
}

/** Units of the layer that produces the output: the output layer, or the last Dense before a trailing activation. */
function unitsOf(output: LayerEntry, layers: LayerEntry[]): number | null {
  if (output.class_name === 'Dense') return output.config.units;
  const at = layers.indexOf(output);
  for (let i = at - 1; i >= 0; i--) if (layers[i].class_name === 'Dense') return layers[i].config.units;
  return null;
}

/**
 * Reads a Keras-style topology: what `model.toJSON()` writes (an object or
 * its JSON text), or a whole `model.json` (its `modelTopology` is used).
 *
 * @throws SpecError naming unsupported layer classes, or an output tfleet cannot score.
 */
export function readTopology(raw: unknown): TopologyInfo {
  let value = raw;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (err) {
      throw new SpecError(FIELD, `is a string but not JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SpecError(FIELD, 'must be a model topology object (what model.toJSON() writes)');
  let topology = value as Record<string, any>;
  if (topology.modelTopology) topology = topology.modelTopology;
  if (topology.model_config) topology = topology.model_config;
  if (!['Sequential', 'Model', 'Functional'].includes(topology.class_name)) {
    throw new SpecError(FIELD, `must be a Sequential or functional Model topology, got class_name ${JSON.stringify(topology.class_name)}`);
  }
  const layers = layersOf(topology);
  const unsupported = [...new Set(classNames(layers).filter((c) => !(SUPPORTED_LAYERS as readonly string[]).includes(c)))];
  if (unsupported.length > 0) {
    throw new SpecError(FIELD, `uses layers tfleet cannot train: ${unsupported.join(', ')} (supported: ${SUPPORTED_LAYERS.join(', ')})`);
  }
  const output = outputLayer(topology, layers);
  const activation = output.class_name === 'Softmax' ? 'softmax' : (output.config.activation ?? 'linear');
  const units = unitsOf(output, layers);
  let head: Head;
  if (activation === 'softmax') head = 'softmax';
  else if (activation === 'sigmoid' && units === 1) head = 'sigmoid';
  else if (activation === 'linear' && units === 1) head = 'squared';
  else {
    throw new SpecError(FIELD, `output layer '${output.config.name}' must end in softmax (classes), sigmoid with 1 unit (two classes) or linear with 1 unit (regression), got ${activation} with ${units ?? 'unknown'} units`);
  }
  const trainingTopology = structuredClone(topology);
  const trainingOutput = outputLayer(trainingTopology, layersOf(trainingTopology));
  if (trainingOutput.class_name === 'Softmax') {
    trainingOutput.class_name = 'Activation';
    trainingOutput.config = { name: trainingOutput.config.name, trainable: true, activation: 'linear' };
  } else trainingOutput.config.activation = 'linear';
  return { topology, trainingTopology, inputShape: inputShape(topology, layers), head, outputUnits: units };
}
