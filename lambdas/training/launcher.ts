/**
 * Starts the machine (or process) that runs `training/job.ts` for one job. The cloud implementation runs
 * an EC2 instance from the training launch template; the local one spawns a child process.
 */
export interface TrainingLauncher {
  launch(jobId: string): Promise<{ launchedAs: string }>;
}
