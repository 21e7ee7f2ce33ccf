/** The training-program contract: what a family's loop runs with on every rank. */
export { ExportTarget, ProgramContext, ProgramJob, ProgramMetrics, TrainingProgram } from './types';
export { RowRange, TaskPlan, dataInfoFromWire, dataInfoToWire, taskPlanFromWire, taskPlanToWire } from './task-plan';
