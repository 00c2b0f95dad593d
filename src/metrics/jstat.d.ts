// The two jstat 1.9.6 functions statistics.ts uses (jstat ships no type declarations).
declare module 'jstat' {
  const jStat: {
    studentt: { inv(p: number, dof: number): number };
    normal: { cdf(x: number, mean: number, sd: number): number };
  };
  export default jStat;
}
