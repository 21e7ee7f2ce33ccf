/** The parameter server's vocabulary, shared by its server, its clients and the training programs. */
export { UpdateRuleSpec, EXACT_RULES, ruleFromWire, ruleToWire } from './rules';
export { PsHandle, PullResult, PushPullOptions, StepSink } from './handle';
export { reduceOnce, reduceLarge, reduceSparse, sumRows, allRows, putLarge, getLarge, takeLarge, REDUCE_CHUNK_ELEMENTS, CHUNKS_IN_FLIGHT } from './collectives';
