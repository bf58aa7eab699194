namespace Lifeguard.Python.Tests;

public sealed class PythonSmokeTests : PythonTestBase
{
    [Fact]
    public async Task CallAsync_EchoesAndRaises()
    {
        await using var pool = await PythonPool.StartAsync(Options("smoke"));
        Assert.Equal(49, await pool.CallAsync<int>("fixtures", "square", [7]));
        Assert.Equal(30, await pool.CallAsync<int>("fixtures", "add", [1, 2], new Dictionary<string, object?> { ["scale"] = 10 }));
        var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("fixtures", "fail", ["boom"]));
        Assert.Equal("ValueError", error.PythonType);
        Assert.Contains("boom", error.Message);
        Assert.Contains("fixtures.py", error.PythonTraceback);
        Assert.Equal(1, await pool.CallAsync<int>("fixtures", "square", [1]));
        var bytes = await pool.CallAsync<byte[]>("fixtures", "reverse_bytes", [new byte[] { 1, 2, 3 }]);
        Assert.Equal(new byte[] { 3, 2, 1 }, bytes);
    }
}
