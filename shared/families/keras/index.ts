import * as tfl from '@tensorflow/tfjs-layers';
import { DataError, SpecError } from '../../errors';
import { LayersReplica } from '../layers/replica';
import { gradientFamily } from '../minibatch/gradient-family';
import { SpecFields } from '../spec-fields';
import { TopologyInfo, readTopology } from './topology';

export interface KerasSpec extends TopologyInfo {
  family: 'keras';
  l2: number;
}

function parseKerasSpec(model: Record<string, unknown>): KerasSpec {
  const f = new SpecFields(model, 'model');
  f.only(['family', 'topology', 'l2'], "family 'keras'");
  if (!f.has('topology')) throw new SpecError('model.topology', "is required for family 'keras'");
  return { family: 'keras', ...readTopology(model.topology), l2: (model.l2 as number | undefined) ?? 0 };
}

/** A tfjs layers topology JSON (from `model.toJSON()` or the tensorflowjs converter), trained data-parallel as given. */
export const kerasFamily = gradientFamily<KerasSpec>({
  name: 'keras',
  taskOf: (spec) => (spec.head === 'squared' ? 'regressor' : 'classifier'),
  parseSpec: parseKerasSpec,
  checkData: (spec, info) => {
    const wanted = spec.inputShape.reduce((a, b) => a * b, 1);
    const cols = info.sampleShape.reduce((a, b) => a * b, 1);
    if (wanted !== cols) {
      throw new DataError(`the topology's input shape [${spec.inputShape.join(', ')}] takes ${wanted} values per sample; the data's samples have shape [${info.sampleShape.join(', ')}] (${cols} values)`);
    }
    const classes = info.classes?.length;
    if (spec.head === 'softmax' && spec.outputUnits !== null && spec.outputUnits !== classes) {
      throw new DataError(`the topology's output layer has ${spec.outputUnits} units; label '${info.labelName}' has ${classes} classes`);
    }
  },
  createReplica: (spec, info) => LayersReplica.create({
    family: 'keras',
    head: spec.head,
    info,
    l2: spec.l2,
    build: (serving) => tfl.models.modelFromJSON({ modelTopology: structuredClone(serving ? spec.topology : spec.trainingTopology) }),
  }),
});
