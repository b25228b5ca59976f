/**
 * The training machine's hard limit, in minutes, when the deployment names none (`-c trainingMaxHours`):
 * the instance shuts down after it, and a job that has not recorded its end by then is FAILED.
 */
export const DEFAULT_TRAINING_MAX_RUN_MINUTES = 120;

/**
 * Starts the machine (or process) that runs `training/job.ts` for one job. The cloud implementation runs
 * an EC2 instance from the training launch template; the local one spawns a child process.
 */
export interface TrainingLauncher {
  launch(jobId: string): Promise<{ launchedAs: string }>;
  /**
   * False when no machine can be started at all (the deployment has no launcher): a job is then refused
   * (503 TRAINING_UNAVAILABLE) before its record or the one-job lock is written. Absent: available.
   */
  available?(): boolean;
  /**
   * Whether the launcher itself fills `prefix` before the job reads it, so that an empty prefix is not
   * refused: the local stack seeds `datasets/` from its dataset root before each job. EC2: never.
   */
  seeds?(prefix: string): Promise<boolean>;
  /**
   * What else would fill an empty `prefix`, added to the DATASET_EMPTY message: the local stack names the
   * folder it seeds from and its setting. EC2: nothing (uploading is the only way).
   */
  emptyDatasetHint?(prefix: string): string | undefined;
  /**
   * Where the machine's own output will be kept (`s3://…`), recorded on the job so that its failure
   * points there. EC2: the instance uploads its cloud-init log when it stops. Local: none (the stack's log).
   */
  machineLog?(jobId: string): string | undefined;
}
