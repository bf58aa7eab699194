using System.Diagnostics;
using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

/// <summary>
/// The Python side's own unit tests (<c>python_unit/test_*.py</c>, standard-library <c>unittest</c>), run by the real
/// interpreter on the runtime this assembly deploys, so that <c>dotnet test</c> runs them too.
/// </summary>
public sealed class PythonUnitTests
{
    [Fact]
    public async Task RuntimeUnitTests_Pass()
    {
        var info = new ProcessStartInfo(InterpreterResolver.Requested(null)) { WorkingDirectory = AppContext.BaseDirectory };

        // argv only, never a shell.
        foreach (var arg in new[] { "-m", "unittest", "discover", "-v", "-s", Path.Combine(AppContext.BaseDirectory, "python_unit"), "-p", "test_*.py" })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["LIFEGUARD_RUNTIME_DIR"] = RuntimeDeployer.RuntimeDirectory;
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        var (exitCode, output, error) = await TestProcess.RunAsync(info);

        // unittest reports on stderr; "Ran 0 tests" would mean the discovery found nothing, not that all passed.
        string report = output + error;
        Assert.True(exitCode == 0, $"python -m unittest exited with {exitCode}:\n{report}");
        Assert.Matches(@"Ran [1-9]\d* tests?", report);
    }
}
