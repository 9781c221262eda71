import { afterAll } from 'vitest';
import { removeTempDirs } from './support/temp.js';

afterAll(removeTempDirs);
