using Lifeguard.Python;
using Microsoft.AspNetCore.Http;

namespace Lifeguard.Samples.WebGateway.Tests;

public sealed class GatewayProblemsTests
{
    public static TheoryData<Exception, int, bool> Failures => new()
    {
        { new PoolTimeoutException("Pool 'stacking' had no free worker within 2 s. Size 2, MaxOverflow 2"), 503, true },
        { new PoolRejectedException("Pool 'stacking' rejected the checkout: 64 callers already wait"), 503, true },
        { new PoolBackoffException("Pool 'stacking' is in backoff"), 503, true },
        { new PoolStoppedException("Pool 'stacking' is stopping or stopped"), 503, true },
        { new WorkerStartException("Pool 'stacking' could not start worker 3"), 503, true },
        { new PythonStartException("python3: not found"), 503, true },
        { new PythonException("optimizer.optimize raised KeyError: 'x'"), 500, false },
        { new PythonCallTimeoutException("optimizer.optimize ran past 10 s"), 504, false },
        { new PythonWorkerCrashedException("The worker (pid 42) exited with code 137"), 502, false },
        { new PythonSerializationException("The result could not be read as StackingPlan"), 500, false },
        { new BadHttpRequestException("Failed to read parameter", 400), 400, false },
        { new BadHttpRequestException("Request body too large", 413), 413, false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Outside_development_a_failure_gets_its_status_and_a_detail_that_does_not_leak_its_message(Exception failure, int status, bool retry)
    {
        var problem = GatewayProblems.From(failure, development: false);

        Assert.NotNull(problem);
        Assert.Equal(status, problem.Status);
        Assert.Equal(retry, problem.RetryAfter is not null);
        Assert.DoesNotContain(failure.Message, problem.Detail, StringComparison.Ordinal);
        Assert.Empty(problem.Extensions);
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public void In_development_a_failure_carries_its_type_and_message(Exception failure, int status, bool retry)
    {
        var problem = GatewayProblems.From(failure, development: true);

        Assert.NotNull(problem);
        Assert.Equal(status, problem.Status);
        Assert.Equal(retry, problem.RetryAfter is not null);
        Assert.Equal(failure.GetType().Name, problem.Extensions["exception"]);
        Assert.Equal(failure.Message, problem.Extensions["message"]);
    }

    [Fact]
    public void Other_exceptions_are_left_to_the_default_handler()
    {
        Assert.Null(GatewayProblems.From(new InvalidOperationException("a bug"), development: true));
        Assert.Null(GatewayProblems.From(new OperationCanceledException(), development: false));
    }
}
