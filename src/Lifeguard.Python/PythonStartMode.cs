namespace Lifeguard.Python;

/// <summary>How a <see cref="PythonPool"/> starts its worker processes (<see cref="PythonPoolOptions.StartMode"/>).</summary>
public enum PythonStartMode
{
    /// <summary>
    /// Each worker is a fresh <c>python3</c> process that imports the runtime and the pool's
    /// <see cref="PythonPoolOptions.Preload"/> modules itself. Every start pays the interpreter and the imports.
    /// </summary>
    Spawn,

    /// <summary>
    /// One template process per pool imports the runtime and the <see cref="PythonPoolOptions.Preload"/> modules once,
    /// then forks each worker on request; <see cref="PythonPoolOptions.InitFunction"/> and the environment are applied in
    /// each worker after the fork. A start or a replacement costs a fork instead of an interpreter start. Linux only:
    /// elsewhere, or while the template is down, workers are spawned. See docs/python.md, "Start modes".
    /// </summary>
    ForkServer,
}
