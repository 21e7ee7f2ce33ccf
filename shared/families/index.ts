export * from './types';
export { getFamily, familyNames } from './registry';
export { loadLayersModel, saveLayersModel } from './tfjs-io';
export { MODEL_META, ModelMeta, readModelMeta } from './model-meta';
