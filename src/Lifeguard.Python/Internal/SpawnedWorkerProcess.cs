using System.Diagnostics;

namespace Lifeguard.Python;

/// <summary>A worker started as its own <c>python3</c> process, the host's child, on pipes. Thread-safe.</summary>
internal sealed class SpawnedWorkerProcess(Process process) : WorkerProcess
{
    public override int Id { get; } = process.Id;

    public override Stream Input => process.StandardInput.BaseStream;

    public override Stream Output => process.StandardOutput.BaseStream;

    public override Stream Error => process.StandardError.BaseStream;

    public override int ExitCode
    {
        get
        {
            try
            {
                return process.ExitCode;
            }
            catch (InvalidOperationException)
            {
                return -1;
            }
        }
    }

    public override long? CeilingMemoryBytes => ProcMemory.Resident(Id);

    public override void OnExit(Action onExit)
    {
        process.Exited += (_, _) => onExit();
        if (process.HasExited)
        {
            onExit();
        }
    }

    public override void CloseInput()
    {
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone.
        }
    }

    public override void Kill()
    {
        try
        {
            // By the pid we hold, this process only; never its group or by name.
            process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public override bool TrySignal(int signal) => NativeMethods.TrySignal(Id, signal);

    public override void Dispose() => process.Dispose();
}
