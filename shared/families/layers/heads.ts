import * as tf from '@tensorflow/tfjs-core';

/**
 * How a network's output is scored. Networks train on logits (a linear
 * output) so losses are computed stably; the saved model applies the
 * head's serving activation.
 *
 * - `squared`: one output, a number (regression).
 * - `sigmoid`: one output logit, a binary class id.
 * - `softmax`: one logit per class, a class id.
 */
export type Head = 'squared' | 'sigmoid' | 'softmax';

export function servingActivation(head: Head): 'linear' | 'sigmoid' | 'softmax' {
  return head === 'squared' ? 'linear' : head;
}

/** Summed loss over the batch of `output` (logits) against labels `y` (numbers or class ids). */
export function headLoss(head: Head, output: tf.Tensor, y: tf.Tensor1D, classes: number): tf.Scalar {
  const rows = y.shape[0];
  if (head === 'squared') return tf.sum(tf.squaredDifference(tf.reshape(output, [rows]), y));
  if (head === 'sigmoid') {
    return tf.losses.sigmoidCrossEntropy(tf.reshape(y, [rows, 1]), tf.reshape(output, [rows, 1]), undefined, 0, tf.Reduction.SUM) as tf.Scalar;
  }
  const onehot = tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, classes);
  return tf.losses.softmaxCrossEntropy(onehot, tf.reshape(output, [rows, classes]), undefined, 0, tf.Reduction.SUM) as tf.Scalar;
}

/**
 * Evaluation sums of one chunk, as scalars: [squared error, absolute error]
 * for regression, [correct predictions] for classifiers.
 */
export function headScores(head: Head, output: tf.Tensor, y: tf.Tensor1D): tf.Scalar[] {
  const rows = y.shape[0];
  if (head === 'squared') {
    const err = tf.sub(tf.reshape(output, [rows]), y);
    return [tf.sum(tf.square(err)), tf.sum(tf.abs(err))];
  }
  const predicted = head === 'sigmoid'
    ? tf.cast(tf.greater(tf.reshape(output, [rows]), 0), 'float32')
    : tf.cast(tf.argMax(tf.reshape(output, [rows, -1]), 1), 'float32');
  return [tf.sum(tf.cast(tf.equal(predicted, y), 'float32'))];
}
