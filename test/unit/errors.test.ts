import { expect } from "chai";
import { MAX_LISTED_PROBLEMS, problemsError, UserError } from "../../src/errors";

describe("src/errors (issue 7 §5)", () => {
  it("a user error is always one line", () => {
    expect(new UserError("inv.yaml:3: invalid YAML:\n  bad\r\n  indentation\n").message).to.equal("inv.yaml:3: invalid YAML: ⏎ bad ⏎ indentation");
  });

  it("lists the first ten problems and counts the rest", () => {
    const problems = Array.from({ length: 25 }, (_, i) => ({ source: "f.yaml", field: `machines[${i}].host`, reason: "bad" }));
    const msg = problemsError(problems).message;
    expect(msg.match(/machines\[\d+\]\.host/g)).to.have.length(MAX_LISTED_PROBLEMS);
    expect(msg).to.match(/^f\.yaml: machines\[0\]\.host: bad \(and 24 more: .*machines\[9\]\.host: bad; … 15 not shown\)$/);
    expect(problemsError(problems.slice(0, 3)).message).to.equal("f.yaml: machines[0].host: bad (and 2 more: f.yaml: machines[1].host: bad; f.yaml: machines[2].host: bad)");
    expect(problemsError(problems.slice(0, 1)).message).to.equal("f.yaml: machines[0].host: bad");
  });
});
