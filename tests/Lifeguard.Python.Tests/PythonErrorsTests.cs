namespace Lifeguard.Python.Tests;

/// <summary>The worker's exceptions as the factory builds them, with no process: wording and typed properties.</summary>
public sealed class PythonErrorsTests
{
    [Fact]
    public void Raised_CarriesTheErrorFrame_AndNamesTheCall()
    {
        var error = PythonErrors.Raised("p", "mod.fn", "mod.fn([1])", new ErrorReply("raised", "ValueError", "bad", "Traceback ..."));

        Assert.Equal("ValueError: bad (in mod.fn([1]))", error.Message);
        Assert.Equal(("p", "ValueError", "bad", "Traceback ...", "mod.fn"), (error.PoolName, error.PythonType, error.PythonMessage, error.PythonTraceback, error.Function));
    }

    [Fact]
    public void StartFailed_ShowsTheTraceback_AndDropsTrailingSpace()
    {
        var error = PythonErrors.StartFailed("p", 42, new ErrorReply("", "ImportError", "no module", ""));

        Assert.Equal("Python worker 42 of pool 'p' failed to start: ImportError: no module", error.Message);
        Assert.Equal("ImportError", error.PythonType);
    }

    [Theory]
    [InlineData(137, "Python worker 7 of pool 'p' died (killed by signal 9 SIGKILL, exit code 137) while running mod.fn. Last output:\nboom", 9)]
    [InlineData(139, "Python worker 7 of pool 'p' died (killed by signal 11 SIGSEGV, exit code 139) while running mod.fn. Last output:\nboom", 11)]
    [InlineData(3, "Python worker 7 of pool 'p' died (exit code 3) while running mod.fn. Last output:\nboom", null)]
    [InlineData(128, "Python worker 7 of pool 'p' died (exit code 128) while running mod.fn. Last output:\nboom", null)]
    [InlineData(193, "Python worker 7 of pool 'p' died (exit code 193) while running mod.fn. Last output:\nboom", null)]
    public void Crashed_NamesTheSignalWhenTheExitCodeIsOne(int exitCode, string message, int? signal)
    {
        var error = PythonErrors.Crashed("p", 7, "died", exitCode, "mod.fn", "boom", inner: null);

        Assert.Equal(message, error.Message);
        Assert.Equal(signal, error.Signal);
        Assert.Equal(exitCode, error.ExitCode);
    }

    [Fact]
    public void Crashed_BetweenCalls_WithNoOutput_SaysSo()
        => Assert.Equal(
            "Python worker 7 of pool 'p' exited (exit code 0). It wrote nothing.",
            PythonErrors.Crashed("p", 7, "exited", 0, runningFunction: null, tail: "", inner: null).Message);

    [Theory]
    [InlineData(false, false, "it was never sent, and the worker kept.")]
    [InlineData(true, false, "it was interrupted and the worker kept.")]
    [InlineData(true, true, "it did not stop when interrupted, so the worker was killed and will be replaced.")]
    public void CallTimedOut_SaysWhatBecameOfTheWorker(bool sent, bool killed, string ending)
    {
        var error = PythonErrors.CallTimedOut("p", 7, "mod.fn", TimeSpan.FromSeconds(3), sent, killed);

        Assert.Equal($"mod.fn on Python worker 7 of pool 'p' did not finish within 00:00:03 (CallTimeout); {ending}", error.Message);
        Assert.Equal(killed, error.WorkerKilled);
    }

    [Fact]
    public void Violation_DropsTheReasonsFullStop()
        => Assert.Equal(
            "Python worker 7 of pool 'p' broke the protocol: a frame of unknown kind 99. It was killed and will be replaced.",
            PythonErrors.Violation("p", 7, "a frame of unknown kind 99.", inner: null).Message);
}
